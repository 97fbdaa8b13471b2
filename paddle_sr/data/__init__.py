"""Layer 5 (above ``models``): where images come from (embedded photos, DIV2K, CelebA, any folder), the
generator-based patch reader and benchmark pairs. The face re-exports what notebooks import from
``paddle_sr.data`` (image reading included, from ``paddle_sr.image.io``)."""
from paddle_sr.data.datasets import (LiifPatchDataset, PatchDataset, augment8, batches, lr_crop,  # noqa: F401
                                     make_loader, modcrop, validation_pairs)
from paddle_sr.data.sources import (CELEBA_SPLITS, DIV2K_SPLITS, EMBEDDED_TRAIN, EMBEDDED_VAL,  # noqa: F401
                                    div2k_lr_folder, embedded_images, image_name, resolve_source)
from paddle_sr.image.io import (IMAGE_EXTENSIONS, is_grayscale_file, list_images, load_image,  # noqa: F401
                                open_image, to_tensor_range, to_uint8)
