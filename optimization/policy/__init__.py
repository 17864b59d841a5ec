"""The DR policy: every rule of when to call an event, how to plan it, how to read what it
delivered and what to learn from it. Plain functions over numpy arrays, no Django: the
product's services (optimization.services) and the season simulator (optimization.simulator)
are thin adapters over them, so that the season benchmark scores the policy the product runs.
tests/optimization/test_policy_parity.py runs a small season through both and compares.

- calls: the error spread from history, the day-ahead call, the morning's revisit, the runs
  of hours next to a window, the day-of call.
- plan: the compliance model's rows, the rolling monthly limit, the cost of an ask, the
  plan's problem with the asks that stand, and its solution with a comparison group.
- verify: the day's correction and what each asked building delivered.
- record: a building's record after its outcomes, everyone's verified share, the plans'
  track record, when the compliance model may be trained.

The rules, one per bullet, are in docs/dr-loop.md.
"""
