// drive.cjs walks the OKD console, headless, through what a cluster admin does with the operator: find it on
// OperatorHub, install it, create a ConfigMapSync and a ManagedSecret through their forms, and submit an invalid one.
// tests/e2e/console_test.go starts the cluster, the console's bridge and this script, then checks in the cluster what
// the pages did. Each step saves a screenshot into SCREENSHOTS; any failure exits non-zero with the step's name.
//
// Environment: CONSOLE_URL (the bridge), CHROMIUM (the browser), SCREENSHOTS (a folder), PACKAGE, CATALOG_TILE (the
// OperatorHub tile's data-test), CSV (the CSV the catalog's channel head installs), SOURCE_NS, SOURCE_NAME (a ConfigMap
// there with the keys KEYS names), DESTINATIONS (two namespaces, comma-separated), KEYS (two keys, comma-separated),
// SYNC_NAME, SECRET_NAME, LITERAL (the literal value the ManagedSecret's first key gets), INVALID_NAME.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const url = env('CONSOLE_URL');
const shots = env('SCREENSHOTS');
const csv = env('CSV');
const sourceNS = env('SOURCE_NS');
const [destA, destB] = env('DESTINATIONS').split(',');
const [keyA, keyB] = env('KEYS').split(',');
const group = 'sync.configmapsync.io';

// problems are the console errors and failed calls that name the operator's kinds or group: each fails the run.
const problems = [];
// expectRejection is set while step 5 submits a value the API server must refuse.
let expectRejection = false;
let step = 'start';

// ours says whether a message or address names the operator's API group or kinds (not merely a namespace whose name
// contains the package's, which the install page looks up before creating it).
const ours = (text) => /sync\.configmapsync\.io|ConfigMapSync|ManagedSecret/.test(text);

function watch(page) {
  page.on('pageerror', (err) => {
    if (ours(String(err))) problems.push(`${step}: page error: ${err}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && ours(msg.text())) problems.push(`${step}: console error: ${msg.text()}`);
  });
  page.on('response', async (res) => {
    if (res.status() < 400 || !ours(res.url())) return;
    if (expectRejection && res.status() === 422 && res.request().method() === 'POST') return;
    const at = `${step}: ${res.request().method()} ${res.url()}`;
    const body = await res.text().catch(() => '');
    problems.push(`${at}: HTTP ${res.status()}: ${body.slice(0, 1000)}\n  sent: ${res.request().postData() || ''}`);
  });
}

async function screenshot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  console.log(`Screenshot ${name}.png`);
}

// until polls fn (which may reload the page) until it returns a truthy value, and fails with what after timeoutMs.
async function until(what, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not seen in ${timeoutMs / 1000} s${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function open(page, route) {
  await page.goto(url + route, { waitUntil: 'networkidle2', timeout: 120000 });
}

const text = (page) => page.evaluate(() => document.body.innerText);

async function expectText(page, what, wanted) {
  const body = await text(page);
  for (const w of wanted) {
    if (!body.includes(w)) throw new Error(`${what}: the page does not show "${w}"`);
  }
}

// setField replaces the value of a form's text input.
async function setField(page, selector, value) {
  await page.waitForSelector(selector, { visible: true, timeout: 30000 });
  await page.click(selector, { count: 3 });
  await page.$eval(selector, (el) => {
    el.select();
  });
  await page.keyboard.press('Backspace');
  await page.type(selector, value);
}

// expandForm opens every collapsed section of a generated form.
async function expandForm(page) {
  for (let i = 0; i < 20; i++) {
    const toggle = await page.$('button[id$="_accordion-toggle"][aria-expanded="false"]');
    if (!toggle) return;
    await toggle.click();
  }
}

// openForm opens the Create page of a kind in form view.
async function openForm(page, kind) {
  await open(page, `/k8s/ns/${sourceNS}/clusterserviceversions/${csv}/${group}~v1~${kind}/~new`);
  const formView = await page.$('input#form');
  if (formView && !(await page.$eval('input#form', (el) => el.checked))) {
    await formView.click();
  }
  await page.waitForSelector('#root_metadata_name', { visible: true, timeout: 60000 });
  await expandForm(page);
}

// submit submits a Create form and waits for the console to leave it (for the kind's list); a refusal fails with
// the form's error.
async function submit(page) {
  await page.click('[data-test="create-dynamic-form"]');
  const outcome = await page.waitForFunction(() => {
    if (!location.pathname.endsWith('/~new')) return 'created';
    const alert = document.querySelector('.pf-v5-c-alert.pf-m-danger');
    return alert ? alert.innerText : false;
  }, { timeout: 60000 });
  const value = await outcome.jsonValue();
  if (value !== 'created') throw new Error(`the form was refused: ${value}`);
}

// refused submits a Create form that must be refused, and returns the form's error.
async function refused(page) {
  await page.click('[data-test="create-dynamic-form"]');
  const alert = await page.waitForSelector('.pf-v5-c-alert.pf-m-danger', { visible: true, timeout: 60000 });
  return alert.evaluate((el) => el.innerText);
}

// readyOnDetails waits until an object's details page shows its Ready condition True and each of wanted.
async function readyOnDetails(page, kind, name, wanted) {
  const route = `/k8s/ns/${sourceNS}/clusterserviceversions/${csv}/${group}~v1~${kind}/${name}`;
  await until(`${kind} ${name} Ready on its details page`, 180000, async () => {
    await open(page, route);
    const body = await text(page);
    return /Ready\s+True/.test(body) && wanted.every((w) => body.includes(w));
  });
}

async function operatorHub(page) {
  step = '1-operatorhub';
  const tile = `[data-test="${env('CATALOG_TILE')}"]`;
  await until('the OperatorHub tile', 180000, async () => {
    await open(page, `/operatorhub/all-namespaces?keyword=${env('PACKAGE')}`);
    return page.$(tile);
  });
  const tileText = await page.$eval(tile, (el) => el.innerText);
  for (const w of ['ConfigMapSync Operator', 'ConfigMapSync Project', 'Copies ConfigMaps and Secrets']) {
    if (!tileText.includes(w)) throw new Error(`the OperatorHub tile does not show "${w}": ${tileText}`);
  }
  const icon = await page.$eval(`${tile} img`, (img) => ({ complete: img.complete, width: img.naturalWidth }));
  if (!icon.complete || icon.width === 0) throw new Error('the OperatorHub tile\'s icon does not render');
  await screenshot(page, '1-operatorhub');

  await page.click(tile);
  await page.waitForSelector('[data-test-id="operator-modal-box"]', { visible: true, timeout: 30000 });
  await expectText(page, 'the details panel', ['Deep Insights', 'ConfigMapSync Project', '0.3.0']);
  await screenshot(page, '1-operatorhub-details');
}

async function install(page) {
  step = '2-install';
  await page.click('[data-test-id="operator-install-btn"]');
  await page.waitForFunction(() => location.pathname.includes('/operatorhub/subscribe'), { timeout: 60000 });
  await page.waitForNetworkIdle({ timeout: 60000 }).catch(() => {});
  await expectText(page, 'the install page', ['All namespaces on the cluster', 'configmapsync-operator-system']);
  await screenshot(page, '2-install');
  // The console creates the Namespace, OperatorGroup and Subscription, then shows the install's progress.
  await page.click('[data-test="install-operator"]');
  await page.waitForFunction(() => location.pathname.includes('/operatorhub/install/'), { timeout: 60000 });
  await page.waitForFunction(() => document.body.innerText.includes('ready for use'), { timeout: 300000 });
  await screenshot(page, '2-install-ready');
  await until('the CSV Succeeded in Installed Operators', 60000, async () => {
    await open(page, '/k8s/all-namespaces/operators.coreos.com~v1alpha1~ClusterServiceVersion');
    const body = await text(page);
    return body.includes('ConfigMapSync Operator') && body.includes('Succeeded');
  });
  await expectText(page, 'Installed Operators', ['ConfigMap Sync', 'Managed Secret']);
  await screenshot(page, '2-installed-operators');
}

async function createConfigMapSync(page) {
  step = '3-configmapsync-form';
  await openForm(page, 'ConfigMapSync');
  const name = env('SYNC_NAME');
  await setField(page, '#root_metadata_name', name);
  await setField(page, '#root_spec_source_name', env('SOURCE_NAME'));
  await setField(page, '#root_spec_source_keys_0_key', keyA);
  await setField(page, '#root_spec_source_keys_1_key', keyB);
  await setField(page, '#root_spec_destination_namespaces_0', destA);
  await setField(page, '#root_spec_destination_namespaces_1', destB);
  await setField(page, '#root_spec_destination_name', name);
  await page.click('#root_spec_syncStrategy');
  await page.click('button#Manual-link');
  await screenshot(page, '3-configmapsync-form');
  await submit(page);
  await readyOnDetails(page, 'ConfigMapSync', name, ['Last Sync Time', 'Synced Destinations', 'Sync Status']);
  await screenshot(page, '3-configmapsync-details');
}

// createManagedSecret fills the ManagedSecret form from the CSV's example (username Literal, password Random, api-key
// Bytes): the form writes every generator's defaults into each key, and each key's type keeps only its own. The third
// key's type is switched to UUID through its select.
async function createManagedSecret(page) {
  step = '4-managedsecret-form';
  await openForm(page, 'ManagedSecret');
  const name = env('SECRET_NAME');
  await setField(page, '#root_metadata_name', name);
  await setField(page, '#root_spec_keys_0_literal', env('LITERAL'));
  await setField(page, '#root_spec_keys_1_random_length', '40');
  await page.click('#root_spec_keys_2_type');
  await page.click('button#UUID-link');
  await setField(page, '#root_spec_rotationInterval', '24h');
  await screenshot(page, '4-managedsecret-form');
  await submit(page);
  await readyOnDetails(page, 'ManagedSecret', name, ['Next Rotation', 'Keys']);
  await screenshot(page, '4-managedsecret-details');

  // The Secret's values, read through the console's own API proxy, must appear nowhere on the page.
  const values = await page.evaluate(async (ns, secret) => {
    const res = await fetch(`/api/kubernetes/api/v1/namespaces/${ns}/secrets/${secret}`);
    if (!res.ok) throw new Error(`reading the Secret: HTTP ${res.status}`);
    return Object.values((await res.json()).data).map((v) => atob(v));
  }, sourceNS, name);
  if (values.length !== 3) throw new Error(`the generated Secret has ${values.length} keys, not 3`);
  const html = await page.content();
  for (const value of values) {
    if (html.includes(value) || html.includes(Buffer.from(value).toString('base64'))) {
      throw new Error('a value of the generated Secret is shown on the ManagedSecret\'s page');
    }
  }
}

async function rejectInvalid(page) {
  step = '5-invalid';
  await openForm(page, 'ConfigMapSync');
  await setField(page, '#root_metadata_name', env('INVALID_NAME'));
  await setField(page, '#root_spec_syncFrequency', '1y');
  expectRejection = true;
  const error = await refused(page);
  expectRejection = false;
  await screenshot(page, '5-invalid');
  if (!error.includes('spec.syncFrequency')) throw new Error(`the form's error does not name spec.syncFrequency: ${error}`);
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: env('CHROMIUM'),
    headless: true,
    userDataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'configmapsync-chromium-')),
    defaultViewport: { width: 1440, height: 1600 },
    // No sandbox as root; no background connections, which this machine's closed network refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  watch(page);
  try {
    await operatorHub(page);
    await install(page);
    await createConfigMapSync(page);
    await createManagedSecret(page);
    await rejectInvalid(page);
  } catch (err) {
    await screenshot(page, `failed-${step}`).catch(() => {});
    throw new Error(`step ${step}: ${err.message}${problems.length ? `\n${problems.join('\n')}` : ''}`);
  } finally {
    await browser.close();
  }
  if (problems.length > 0) throw new Error(`console errors naming the operator's kinds:\n${problems.join('\n')}`);
  console.log('Every step passed');
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
