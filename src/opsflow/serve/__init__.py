"""`opsflow serve`: hosting a flow's triggers (webhook, schedule, file, poll) on this machine.

`host` starts every run the same way; each trigger kind has its own module.
"""
