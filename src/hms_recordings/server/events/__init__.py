"""Events received from outside (webhooks): stored durably, fanned out to subscribers and waiting calls.

``store`` (the SQLite event log), ``hub`` (wake-ups and the subscription bus), ``redis`` (the bus, wake-ups and
dedupe across replicas), ``receiver`` (the webhook route), ``sse`` (a resource's updates as Server-Sent Events) and
``wiring`` (building them from the settings). Nothing here knows what the events are: a parser given by the caller
turns a delivery into a :class:`~hms_recordings.runtime.local.ReceivedEvent`.
"""
