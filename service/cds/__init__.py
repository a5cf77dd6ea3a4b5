"""CDS Hooks 2.0 cards from HER2 results and the therapy catalog: no Flask, no network.

- ``services``: the service definitions and prefetch templates (discovery);
- ``prefetch``: prefetch data into one searchset Bundle, and the keys still to fetch;
- ``wording``: statuses, categories and next steps in plain words;
- ``cards``: ``patient-view`` cards and what every card shares;
- ``orders``: ``order-select`` / ``order-sign`` cards (an agent against the result).

``service.app.cds`` answers a hook with them; ``service.api.cds_hooks`` serves it.
"""
