# pilot-agent on Node 24 LTS. Build stage compiles and bundles; the runtime image carries the
# bundle, production dependencies and the generated diagrams (served by /debug/statechart).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# tini reaps zombies and forwards signals when the agent is PID 1; Envoy itself is not in this
# image: copy it in (e.g. from envoyproxy/envoy) or mount it, at Istio's /usr/local/bin/envoy.
RUN apt-get update && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
# pilot-agent-sds.mjs: SDS mode's runtime, loaded only when SDS is on (tools/bundle.ts).
COPY --from=build /src/dist/pilot-agent.mjs /src/dist/pilot-agent.mjs.map /src/dist/pilot-agent-sds.mjs /src/dist/pilot-agent-sds.mjs.map ./dist/
COPY --from=build /src/bin ./bin
COPY --from=build /src/visualizations ./visualizations
RUN ln -s /app/bin/pilot-agent.js /usr/local/bin/pilot-agent && mkdir -p /etc/istio/proxy
# The status port (readiness, probes, merged metrics); Envoy's admin stays on loopback.
EXPOSE 15020
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/pilot-agent.js"]
CMD ["proxy", "sidecar"]
