"""The Ray engine: starting or joining a cluster, the Tune phases (tune, select, confirm), their driver-side
callbacks, the progress line and graceful interrupts. The only part of gatesweep that imports Ray; it never
imports MLflow (finished runs go to the durable outbox of `pipeline.tracking`)."""
