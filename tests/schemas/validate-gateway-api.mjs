// Validate rendered objects against published schemas: Gateway API objects with @kubernetes-models/gateway-api,
// cert-manager's Certificate and Issuer with @kubernetes-models/cert-manager (both generated from the projects'
// own CRDs). Envoy Gateway's policies have no such package (tests/schemas/envoy-gateway/ holds a hand-written one).
// Reads a JSON array of objects on stdin; prints a JSON array with one list of error strings per object.
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { Certificate, Issuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1";

const MODELS = {
  "gateway.networking.k8s.io/v1/HTTPRoute": HTTPRoute,
  "cert-manager.io/v1/Certificate": Certificate,
  "cert-manager.io/v1/Issuer": Issuer,
};
let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((obj) => {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    return (err.errors || [{ instancePath: "", message: err.message }])
      .map((e) => `${e.instancePath || "/"}: ${e.message}`);
  }
});
process.stdout.write(JSON.stringify(results));
