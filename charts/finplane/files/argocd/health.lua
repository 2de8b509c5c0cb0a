-- Argo CD health check for Finplane's kinds (finplane.io): BusinessCapability, Channel, TenantSandbox,
-- ImageRegistry, CompliancePolicy and Team. Install it under resource.customizations.health.finplane.io_<Kind>
-- in argocd-cm (docs/gitops.md; charts/finplane/files/argocd/argocd-cm.yaml holds the ready-made keys).
-- Healthy only when Finplane says Ready=True for the current generation; Stalled=True or a Ready=False
-- that is not progress is Degraded; everything else (not observed yet, Reconciling=True) is Progressing.
local hs = {}
local function find(conditions, type_)
  for _, c in ipairs(conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end
local function say(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for Finplane to reconcile"
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for Finplane to observe generation " .. tostring(generation)
  return hs
end
local conditions = obj.status.conditions
local stalled = find(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = say(stalled)
  return hs
end
local ready = find(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = say(ready)
  return hs
end
local reconciling = find(conditions, "Reconciling")
local progressing = find(conditions, "Progressing")
if (reconciling ~= nil and reconciling.status == "True") or (progressing ~= nil and progressing.status == "True")
    or ready == nil or ready.status ~= "False" then
  hs.status = "Progressing"
  hs.message = ready ~= nil and say(ready) or "Waiting for the Ready condition"
  return hs
end
hs.status = "Degraded"
hs.message = say(ready)
return hs
