package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"slices"
	"strings"
)

// chartLegend explains latest.png in latest.md.
const chartLegend = "One block per figure that has a direct baseline or a numeric limit: the blue bar is the operator, " +
	"the grey bar the direct client-go baseline, the orange bar the target limit (memory). Each block is scaled to its " +
	"own largest bar, so compare bars within a block, not across blocks. Figures whose target is 0 (no-op resync) " +
	"are listed as text."

// Chart geometry, in pixels. Text is a 5x7 bitmap font drawn at textScale, so the chart needs no font package.
const (
	chartWidth = 1500
	margin     = 20
	textScale  = 2
	charWidth  = 6 * textScale
	lineHeight = 9 * textScale
	barHeight  = 16
	barMaxLen  = 700
)

var (
	colorOperator = color.RGBA{0x1f, 0x6f, 0xd1, 0xff}
	colorBaseline = color.RGBA{0x9a, 0x9a, 0x9a, 0xff}
	colorLimit    = color.RGBA{0xf0, 0x8c, 0x1e, 0xff}
	colorText     = color.RGBA{0x20, 0x20, 0x20, 0xff}
	colorMissed   = color.RGBA{0xc0, 0x20, 0x20, 0xff}
	// The second operator and baseline lines of a curve panel, and the RSS growth line.
	colorOperator2 = color.RGBA{0x8e, 0x44, 0xad, 0xff}
	colorBaseline2 = color.RGBA{0x50, 0x50, 0x50, 0xff}
	colorGrowth    = color.RGBA{0x2a, 0x9d, 0x3f, 0xff}
	colorGrid      = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
)

// bar is one bar of a block.
type bar struct {
	value float64
	label string
	color color.RGBA
}

// block is one figure in the chart: a title and its bars.
type block struct {
	title  string
	bars   []bar
	missed bool
}

// writeChart draws a horizontal bar chart of the figures into a PNG file.
func writeChart(path string, figures []figure) error {
	blocks := chartBlocks(figures)
	height := margin * 2
	for _, b := range blocks {
		height += lineHeight + len(b.bars)*(barHeight+6) + 14
	}
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	fill(img, img.Bounds(), color.RGBA{0xff, 0xff, 0xff, 0xff})

	y := margin
	for _, b := range blocks {
		titleColor := colorText
		if b.missed {
			titleColor = colorMissed
		}
		drawText(img, margin, y, b.title, titleColor)
		y += lineHeight
		largest := 0.0
		for _, br := range b.bars {
			largest = max(largest, br.value)
		}
		for _, br := range b.bars {
			length := 1
			if largest > 0 {
				length = max(1, int(br.value/largest*barMaxLen))
			}
			fill(img, image.Rect(margin, y, margin+length, y+barHeight), br.color)
			drawText(img, margin+length+8, y+(barHeight-7*textScale)/2, br.label, colorText)
			y += barHeight + 6
		}
		y += 14
	}
	return savePNG(path, img)
}

// savePNG writes img into a PNG file.
func savePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// chartBlocks turns figures into blocks: operator vs baseline, or operator vs limit.
func chartBlocks(figures []figure) []block {
	blocks := make([]block, 0, len(figures))
	for _, f := range figures {
		b := block{title: f.Scenario + ": " + f.Metric, missed: f.Met != nil && !*f.Met}
		op := bar{value: f.Value, label: "OPERATOR " + formatValue(f.Value, f.Unit), color: colorOperator}
		var limit float64
		switch {
		case f.Baseline != nil:
			label := "DIRECT " + formatValue(*f.Baseline, f.Unit)
			if f.Ratio != nil {
				op.label += fmt.Sprintf(" (%.2fX)", *f.Ratio)
			}
			b.bars = []bar{op, {value: *f.Baseline, label: label, color: colorBaseline}}
		case parseLimit(f.Target, &limit) && limit > 0:
			b.bars = []bar{op, {value: limit, label: "LIMIT " + formatValue(limit, f.Unit), color: colorLimit}}
		default:
			b.title += "  =  " + formatValue(f.Value, f.Unit) + "  (TARGET " + f.Target + ")"
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// parseLimit reads the number of a "< N unit" target.
func parseLimit(target string, limit *float64) bool {
	_, err := fmt.Sscanf(target, "< %g", limit)
	return err == nil
}

// series is one line of a panel: a y per x of the panel.
type series struct {
	name  string
	color color.RGBA
	ys    []float64
}

// panel is one line chart of curves.png: its lines against xs, on a logarithmic x axis (the curves span decades
// of namespaces and of sizes) and a linear y axis from 0.
type panel struct {
	title  string
	xs     []float64
	xLabel func(x float64) string
	unit   string
	lines  []series
}

// Curve panel geometry, in pixels: two panels per row.
const (
	panelWidth  = (chartWidth - 3*margin) / 2
	panelHeight = 420
	plotLeft    = 130 // room for the y labels
	plotInset   = 36  // keeps the first and last x labels inside the panel
)

// writeLineCharts draws the panels, two per row, into a PNG file.
func writeLineCharts(path string, panels []panel) error {
	rows := (len(panels) + 1) / 2
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, margin+rows*(panelHeight+margin)))
	fill(img, img.Bounds(), color.RGBA{0xff, 0xff, 0xff, 0xff})
	for i, p := range panels {
		x := margin + (i%2)*(panelWidth+margin)
		y := margin + (i/2)*(panelHeight+margin)
		drawPanel(img, image.Rect(x, y, x+panelWidth, y+panelHeight), p)
	}
	return savePNG(path, img)
}

// drawPanel draws one panel into r: title, legend, y grid with labels, x ticks with labels, then the lines.
func drawPanel(img *image.RGBA, r image.Rectangle, p panel) {
	drawText(img, r.Min.X, r.Min.Y, p.title, colorText)
	// The legend wraps onto as many lines as it needs.
	lx, ly := r.Min.X, r.Min.Y+lineHeight+6
	for _, s := range p.lines {
		width := 20 + (len(s.name)+2)*charWidth
		if lx+width > r.Max.X {
			lx, ly = r.Min.X, ly+lineHeight
		}
		fill(img, image.Rect(lx, ly+2, lx+12, ly+12), s.color)
		drawText(img, lx+18, ly, s.name, colorText)
		lx += width
	}
	plot := image.Rect(r.Min.X+plotLeft, ly+lineHeight+12, r.Max.X-plotInset, r.Max.Y-lineHeight-8)

	largest := 0.0
	for _, s := range p.lines {
		for _, y := range s.ys {
			largest = max(largest, y)
		}
	}
	step := niceStep(largest / 4)
	top := step * math.Max(1, math.Ceil(largest/step))
	yPos := func(v float64) int { return plot.Max.Y - int(math.Max(0, v)/top*float64(plot.Dy())) }
	for v := 0.0; v <= top+step/2; v += step {
		y := yPos(v)
		fill(img, image.Rect(plot.Min.X, y, plot.Max.X, y+1), colorGrid)
		label := formatValue(v, p.unit)
		drawText(img, plot.Min.X-8-len(label)*charWidth, y-7*textScale/2, label, colorText)
	}

	lo, hi := math.Log(slices.Min(p.xs)), math.Log(slices.Max(p.xs))
	xPos := func(x float64) int {
		if hi <= lo {
			return (plot.Min.X + plot.Max.X) / 2
		}
		return plot.Min.X + plotInset + int((math.Log(x)-lo)/(hi-lo)*float64(plot.Dx()-2*plotInset))
	}
	fill(img, image.Rect(plot.Min.X, plot.Min.Y, plot.Min.X+1, plot.Max.Y+1), colorText)
	fill(img, image.Rect(plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y+1), colorText)
	for _, x := range p.xs {
		px, label := xPos(x), p.xLabel(x)
		fill(img, image.Rect(px, plot.Max.Y, px+1, plot.Max.Y+6), colorText)
		drawText(img, px-len(label)*charWidth/2, plot.Max.Y+10, label, colorText)
	}

	for _, s := range p.lines {
		for i, y := range s.ys {
			px, py := xPos(p.xs[i]), yPos(y)
			if i > 0 {
				drawLine(img, xPos(p.xs[i-1]), yPos(s.ys[i-1]), px, py, s.color)
			}
			fill(img, image.Rect(px-3, py-3, px+4, py+4), s.color)
		}
	}
}

// drawLine draws a 2-pixel line from (x0, y0) to (x1, y1).
func drawLine(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	steps := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= steps; i++ {
		x := x0 + (x1-x0)*i/steps
		y := y0 + (y1-y0)*i/steps
		fill(img, image.Rect(x, y, x+2, y+2), c)
	}
}

// niceStep returns the smallest 1, 2 or 5 times a power of ten that is at least x, for round grid lines.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func abs(n int) int { return max(n, -n) }

// fill paints a rectangle.
func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// drawText draws s in upper case with the 5x7 font, its top-left corner at (x, y).
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		glyph, ok := font5x7[r]
		if !ok {
			glyph = font5x7['?']
		}
		for row, bits := range glyph {
			for col := range 5 {
				if bits&(1<<(4-col)) != 0 {
					fill(img, image.Rect(x+col*textScale, y+row*textScale, x+(col+1)*textScale, y+(row+1)*textScale), c)
				}
			}
		}
		x += charWidth
	}
}

// font5x7 is a classic 5x7 bitmap font: seven rows per glyph, the five low bits of each row from left to right.
var font5x7 = map[rune][7]uint8{
	' ': {}, '?': {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},
	'0': {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, '1': {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'2': {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, '3': {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
	'4': {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, '5': {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
	'6': {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, '7': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	'8': {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, '9': {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
	'A': {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}, 'B': {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
	'C': {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, 'D': {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},
	'E': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, 'F': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
	'G': {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, 'H': {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'I': {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, 'J': {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
	'K': {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, 'L': {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
	'M': {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, 'N': {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
	'O': {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, 'P': {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
	'Q': {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, 'R': {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
	'S': {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, 'T': {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
	'U': {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, 'V': {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
	'W': {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, 'X': {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
	'Y': {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, 'Z': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
	'.': {0, 0, 0, 0, 0, 0x0C, 0x0C}, ':': {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0},
	'-': {0, 0, 0, 0x1F, 0, 0, 0}, '/': {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0},
	'%': {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, ',': {0, 0, 0, 0, 0x0C, 0x04, 0x08},
	'(': {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, ')': {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
	'<': {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, '>': {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},
	'=': {0, 0, 0x1F, 0, 0x1F, 0, 0}, '+': {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0},
}
