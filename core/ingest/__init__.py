"""Bulk ingest: folders of recordings with their metadata (``callytics analyze DIR`` and the
watched folder of ``callytics ingest``).

- :mod:`core.ingest.files`: which files of a folder are recordings, and when one is fully
  written (the stability rule);
- :mod:`core.ingest.sources`: a recording's metadata from its name (a pattern), the folder's
  ``metadata.csv`` and its sidecar JSON;
- :mod:`core.ingest.batch`: one recording analysed now, or found already analysed;
- :mod:`core.ingest.watcher`: the watched folder, each file submitted once, across restarts.
"""
