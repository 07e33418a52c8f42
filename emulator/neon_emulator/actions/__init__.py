"""What the mutating API calls that make data do, one module per resource: validate what only
the store can judge, create the records (through :mod:`neon_emulator.provisioning`), pin "now"
with the data plane where the call branches or snapshots, and submit the operations.

Route handlers (:mod:`neon_emulator.routes`) stay thin: they parse the request, call one function
here, and render its result with :mod:`neon_emulator.views`.
"""
