# The operator image the Helm chart runs. (No Docker engine runs on our development machines,
# so CI does not build this image; the chart's objects are tested against a real apiserver.)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator operator
COPY emulator emulator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532:65532
ENTRYPOINT ["neon-operator"]
CMD ["run", "--all-namespaces"]
