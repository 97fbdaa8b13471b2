"""Layer 2: image files (read, write, EXIF, alpha, 16-bit), MATLAB ``imresize``, PSNR/SSIM."""
