-- Argo CD health check for every kind of neon.operator.dev (NeonConfig, NeonAppDatabase,
-- NeonBranch, NeonSnapshot, NeonRestore, NeonSnapshotSchedule). Configured per kind in argocd-cm
-- (argocd-cm.yaml beside this file), it runs without Lua's string library, as Argo CD runs
-- custom checks. It reads what the operator writes: status.observedGeneration and the
-- conditions Ready, Stalled (kstatus: only a change of the resource can help) and Synced
-- (reason Paused while the pause annotation holds).
--
--   Suspended    paused by the annotation neon.operator.dev/paused, a NeonSnapshotSchedule
--                with spec.suspend, or a staged NeonRestore waiting for spec.finalize
--   Progressing  being deleted, the current generation not yet handled by the operator,
--                or Ready=False while it provisions or waits for a parent
--   Degraded     Stalled=True, or Ready=False for any other reason (the message says why)
--   Healthy      Ready=True for the current generation
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, found in ipairs(obj.status.conditions) do
    if found.type == kind then
      return found
    end
  end
  return nil
end

local paused_values = {["true"] = true, ["True"] = true, ["TRUE"] = true, ["1"] = true,
                       ["yes"] = true, ["Yes"] = true, ["YES"] = true}
local annotations = obj.metadata.annotations or {}
local synced = condition("Synced")
if paused_values[annotations["neon.operator.dev/paused"]] or
    (synced ~= nil and synced.status == "False" and synced.reason == "Paused") then
  hs.status = "Suspended"
  hs.message = "Reconciliation is paused by the annotation neon.operator.dev/paused"
  return hs
end

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted"
  return hs
end

if obj.kind == "NeonSnapshotSchedule" and obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: no snapshots are taken"
  return hs
end

local generation = obj.metadata.generation
local ready = condition("Ready")
if obj.status == nil or ready == nil or
    (generation ~= nil and obj.status.observedGeneration ~= generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to handle the current generation"
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

if ready.reason == "AwaitingFinalize" then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end

local on_its_way = {Provisioning = true, ParentNotReady = true, ParentNotFound = true}
if on_its_way[ready.reason] then
  hs.status = "Progressing"
else
  hs.status = "Degraded"
end
hs.message = ready.message
return hs
