// Package deploy holds the deployment examples: the Kubernetes manifests
// in deploy/kubernetes and (at the repository root) compose.yaml. It has no
// code; its test decodes every manifest strictly into the Kubernetes API
// types (and the compose file into the fields it uses) and checks the
// invariants the bot relies on, so CI catches a typo or a drift.
package deploy
