"""The wavelet paper's models: Haar transforms, the score U-Net and OU diffusion (SGM, WSGM) and WMGM's
shared attention-U-Net generator with its discriminator."""
