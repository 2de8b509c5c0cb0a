// Validate Gateway API objects against the published schema of @kubernetes-models/gateway-api.
// Reads a JSON array of objects on stdin; prints a JSON array with one list of error strings per object.
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";

const MODELS = { "gateway.networking.k8s.io/v1/HTTPRoute": HTTPRoute };
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
