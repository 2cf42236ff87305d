"""The national exchange (汇交 / 接入, domain.md §15; docs/exchange.md).

One module per job: mapping (register → exchange tables, code values), facts (what a recorded
case says), messages (the per-recording XML and its XSD), outbox (written by the recording
transaction), sender (delivery to the provincial platform), reconcile, export.
"""
