# pairranker: multi-stage build. The build stage runs the README's own set-up and build commands.
#   docker build -t pairranker .
#   docker build -t pairranker --build-arg MODEL=llm-blender/pair-ranker .   # bake a model in
#   docker run -p 8080:8080 -v hf-cache:/models pairranker
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build
# The numeric kernels are built for x86-64-v3 (AVX2, FMA); for older CPUs build with
# --build-arg PAIRRANKER_PORTABLE=1 (Package.swift reads it from the environment of the RUN below).
ARG PAIRRANKER_PORTABLE=0
WORKDIR /src
COPY . .
RUN bash scripts/bootstrap.sh && swift build -c release --static-swift-stdlib --product pairranker \
    && cp .build/release/pairranker /usr/local/bin/pairranker

FROM debian:bookworm-slim AS runtime
# Only what the binary links against: OpenBLAS, zlib, libcurl (model downloads), CA certificates.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libopenblas0-pthread zlib1g libcurl4 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/pairranker pairranker \
    && mkdir -p /models && chown pairranker /models
COPY --from=build /usr/local/bin/pairranker /usr/local/bin/pairranker
ENV HF_HOME=/models \
    PAIRRANKER_HOST=0.0.0.0 \
    PAIRRANKER_PORT=8080 \
    PAIRRANKER_MODEL=llm-blender/pair-ranker
USER pairranker
ARG MODEL=""
RUN if [ -n "$MODEL" ]; then pairranker download "$MODEL"; fi
VOLUME /models
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD curl -fsS "http://127.0.0.1:${PAIRRANKER_PORT}/health" || exit 1
ENTRYPOINT ["pairranker"]
CMD ["serve"]
