"""The networks metrics read: Inception ports (rFID, KID) and LPIPS backbones, built from local
weights files and run in float32.
"""
