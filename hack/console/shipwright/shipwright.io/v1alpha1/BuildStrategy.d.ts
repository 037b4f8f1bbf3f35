// IBuildStrategy stands in for the type @kubernetes-models/shipwright 0.2.0 declares for shipwright.io/v1alpha1 BuildStrategy.
export interface IBuildStrategy {
  apiVersion: 'shipwright.io/v1alpha1';
  kind: 'BuildStrategy';
  metadata?: { [key: string]: any };
  spec?: { [key: string]: any };
  status?: { [key: string]: any };
}
