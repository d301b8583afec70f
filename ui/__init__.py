"""The councilqa web page (Streamlit); it talks to the search service over HTTP only."""
