// IClusterBuildStrategy stands in for the type @kubernetes-models/shipwright 0.2.0 declares for shipwright.io/v1beta1 ClusterBuildStrategy.
export interface IClusterBuildStrategy {
  apiVersion: 'shipwright.io/v1beta1';
  kind: 'ClusterBuildStrategy';
  metadata?: { [key: string]: any };
  spec?: { [key: string]: any };
  status?: { [key: string]: any };
}
