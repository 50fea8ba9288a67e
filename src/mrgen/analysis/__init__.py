"""Data-only analyses: wavelet statistics by scale (W5, W6, WSGM's standardisation) and Theorem 2's check."""
