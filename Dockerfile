# pilot-agent's container image on Node 24 LTS (Debian bookworm, slim). README "Running in a
# container" has the commands; in short:
#   docker build -t pilot-agent .                                    agent + Envoy (the last stage)
#   docker build --build-arg ENVOY_IMAGE=docker.io/istio/proxyv2:1.24.0 -t pilot-agent .
#   docker build --target agent -t pilot-agent:agent .               agent only: bring your own Envoy
# The runtime stages hold only what runs: Node (the base image), tini, the bundled agent, the two
# packages it loads at run time, the diagrams /debug/statechart serves, and Envoy.

# Any image with Envoy at /usr/local/bin/envoy (envoyproxy/envoy, istio/proxyv2, …). Built only
# for the default target.
ARG ENVOY_IMAGE=docker.io/envoyproxy/envoy:v1.36.2

FROM ${ENVOY_IMAGE} AS envoy

FROM node:24-bookworm-slim AS build
# tini and the CA bundle are copied out of this stage: the runtime stages get the two files
# without apt's state, openssl or the package scripts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && node dist/tools/runtime-files.js /app

# The agent without Envoy: mount Envoy at /usr/local/bin/envoy or pass --binaryPath.
FROM node:24-bookworm-slim AS agent
ARG VERSION=0.1.0
ARG SOURCE_URL=
ARG REVISION=
LABEL org.opencontainers.image.title="pilot-agent" \
      org.opencontainers.image.description="Istio 1.5's pilot-agent proxy in TypeScript: starts, supervises, hot-restarts and drains Envoy" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /usr/bin/tini /usr/bin/tini
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Istio's proxy user and group (1337). Nothing in the image needs to be written: with a read-only
# root filesystem, mount /etc/istio/proxy (an emptyDir in Kubernetes); hot restart's shared memory
# is in /dev/shm.
RUN groupadd --gid 1337 istio-proxy \
 && useradd --uid 1337 --gid 1337 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --no-log-init istio-proxy \
 && install -d -o 1337 -g 1337 -m 0755 /etc/istio/proxy \
 && ln -s /app/bin/pilot-agent.js /usr/local/bin/pilot-agent
COPY --from=build /app /app
USER 1337:1337
# Istio's agent reads ./etc/istio/pod/labels (the downward API volume) relative to /.
WORKDIR /
# The status port: readiness, application probes, merged metrics. Envoy's admin stays on loopback.
EXPOSE 15020
STOPSIGNAL SIGTERM
# tini is PID 1: it reaps orphans and forwards signals to the agent alone (Envoy runs in a process
# group of its own and gets its SIGTERM from the agent, after the drain). The agent runs through
# its #! line, which carries its Node flags and malloc settings.
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/pilot-agent.js"]
CMD ["proxy", "sidecar"]

# The default target: agent and Envoy, as istio/proxyv2 ships them.
FROM agent AS sidecar
COPY --from=envoy /usr/local/bin/envoy /usr/local/bin/envoy
