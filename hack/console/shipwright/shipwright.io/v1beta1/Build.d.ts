// IBuild stands in for the type @kubernetes-models/shipwright 0.2.0 declares for shipwright.io/v1beta1 Build.
export interface IBuild {
  apiVersion: 'shipwright.io/v1beta1';
  kind: 'Build';
  metadata?: { [key: string]: any };
  spec?: { [key: string]: any };
  status?: { [key: string]: any };
}
