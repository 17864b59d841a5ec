"""One snapshot of a utility's figures for a day, and one for each event: computed once, stored
as a StakeholderReport with the versions behind it, and read by every role's page, report,
export and notice (DESIGN.md, "Reaching the people").

A day snapshot is made of sections (grid, events, market, engineering, owners, ...), each a
function of a DayContext registered with @section; the snapshot is built again only when what
it was computed from has changed (its source key) or it is older than MAX_AGE.
"""
