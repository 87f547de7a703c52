"""The `library` generator: the user's own sound-effects library (UCS names, BWF and tag metadata), indexed in
SQLite, searched per event with BM25, cut per onset and looped per bed, then placed by the spatial renderer.

Modules: `ucs` (Universal Category System names), `analysis` (onsets, one-shot or texture, metadata),
`index` (the SQLite index and search), `backend` (the generator).
"""
