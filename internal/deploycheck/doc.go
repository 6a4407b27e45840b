// Package deploycheck holds tests that keep the deployment files (docker-compose.yml,
// Dockerfile) true to the README. It has no code of its own.
package deploycheck
