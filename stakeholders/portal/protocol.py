"""The emergency protocol a utility's team follows when the forecast reaches CRITICAL: one
list, which the emergency team checks off (services.protocol_check) and the operator's page
shows."""

# (step number, what to do), in the order they are done
EMERGENCY_STEPS: list[tuple[int, str]] = [
    (1, "Acknowledge the CRITICAL alert and name the incident lead."),
    (2, "Confirm a DR event covers every CRITICAL hour and is dispatched."),
    (3, "Notify critical-care customers and hospitals on the affected feeders."),
    (4, "Stage the public conservation appeal for release two hours before the peak."),
    (5, "Prepare the rotating-outage plan with the control room; hold for the go decision."),
    (6, "Stand down once the peak has passed and the load is back under HIGH."),
]
STEP_NUMBERS = frozenset(number for number, _ in EMERGENCY_STEPS)
