# A catalog image serving catalog/ (file-based catalog) with opm.
FROM quay.io/operator-framework/opm:v1.61.0
ENTRYPOINT ["/bin/opm"]
CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]
ADD catalog /configs
LABEL operators.operatorframework.io.index.configs.v1=/configs
