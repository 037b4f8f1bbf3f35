// IBuildRun stands in for the type @kubernetes-models/shipwright 0.2.0 declares for shipwright.io/v1alpha1 BuildRun.
export interface IBuildRun {
  apiVersion: 'shipwright.io/v1alpha1';
  kind: 'BuildRun';
  metadata?: { [key: string]: any };
  spec?: { [key: string]: any };
  status?: { [key: string]: any };
}
