"""The councilqa HTTP service: hybrid search and cited answers over an index built by `councilqa index`."""
