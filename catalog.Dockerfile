# A catalog image serving catalog/ (file-based catalog) with opm, as `opm generate dockerfile` writes it.
# `make catalog-image` builds the same image without a container engine (hack/image): opm and
# grpc_health_probe built here stand in for the base image, and the RUN step's cache is made by opm's cache
# package in its JSON format (hack/tools/operator-sdk/servecache), so that the image is reproducible.
FROM quay.io/operator-framework/opm:v1.59.0
ENTRYPOINT ["/bin/opm"]
CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]
ADD catalog /configs
RUN ["/bin/opm", "serve", "/configs", "--cache-dir=/tmp/cache", "--cache-only"]
LABEL operators.operatorframework.io.index.configs.v1=/configs
