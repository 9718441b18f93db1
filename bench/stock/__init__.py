"""The stock alternative `make bench` compares the service with: plain Django + DRF + SimpleJWT, as documented."""
