// Package deploycheck holds tests that keep the deployment (docker-compose.yml, Dockerfile,
// deploy/) true without a Docker engine: the files parse and pass their own tools' checks
// (promtool, amtool, caddy), alerts read metrics the code exports, Prometheus scrapes every
// role, the README's table matches, and each service's command line runs against the local
// services. It has no code of its own.
package deploycheck
