"""The one table of reduced model settings the tests build models with (asserted to cover every registered
model in tests/test_models.py).

- ``TINY``: the smallest settings that still run every code path of a model; the training tests (two
  iterations of every recipe) use them. Lists, not tuples: they travel as JSON (``--model_kwargs``).
- ``SMALL``: shallower than the paper's, the same layer types; what the export, inference (tiling
  probe) and registry tests build. A model not listed is small enough at its full size.
"""
TINY = {
    "rdn": dict(num_features=8, num_blocks=2, num_layers=2, growth_rate=4),
    "edsr": dict(n_resblocks=1, n_feats=8),
    "edsr_baseline": dict(n_resblocks=1, n_feats=8),
    "rcan": dict(n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4),
    "srresnet": dict(channels=8, num_blocks=1),
    "rlfn": dict(feature_channels=8, num_blocks=1, esa_channels=4),
    "rlfn_s": dict(feature_channels=8, num_blocks=1, esa_channels=4),
    "rlfn_ntire": dict(feature_channels=8, mid_channels=8, num_blocks=1, esa_channels=4),
    "liif": dict(encoder_kwargs=dict(num_features=8, num_blocks=1, num_layers=1, growth_rate=4), hidden_list=[8]),
    "liif_edsr_baseline": dict(encoder_kwargs=dict(n_resblocks=1, n_feats=8), hidden_list=[8]),
    "srcnn": dict(n1=16, n2=8),
    "espcn": {},
    "vdsr": dict(num_layers=6, num_features=16),
    "drcn": dict(num_recursions=4, num_features=16),
    "drrn": dict(num_units=3, num_features=16),
    "lapsrn": dict(depth=2, n_feats=16),
    "esrgan": dict(num_block=1, num_feat=16, num_grow_ch=8),
    "wdsr_a": dict(n_resblocks=2, n_feats=8, block_feats=16),
    "wdsr_b": dict(n_resblocks=2, n_feats=8),
    "swinir": dict(embed_dim=12, depths=[2], num_heads=[3]),
    "swinir_light": dict(embed_dim=12, depths=[2], num_heads=[3]),
    "san": dict(n_resgroups=2, n_resblocks=2, n_feats=16, reduction=4),
    "ignn": dict(n_resblocks=1, n_feats=8),  # vgg_weights left out: a random frozen VGG, no download
    "imdn": dict(nf=16, num_modules=1),  # IMDN's distillation splits need nf >= 16
    "carn": dict(n_feats=8),
    "carn_m": dict(n_feats=8),
}

SMALL = {
    "edsr": dict(n_resblocks=2, n_feats=16),
    "rcan": dict(n_resgroups=2, n_resblocks=2, n_feats=16, reduction=4),
    "rdn": dict(num_features=8, num_blocks=2, num_layers=2, growth_rate=4),
    "srresnet": dict(num_blocks=2, channels=16),
    "esrgan": dict(num_block=2),
    "drcn": dict(num_recursions=4, num_features=32),
    "drrn": dict(num_units=3, num_features=32),
    "vdsr": dict(num_layers=6),
    "swinir": dict(embed_dim=24, depths=(2, 2), num_heads=(3, 3)),
    "swinir_light": dict(embed_dim=24, depths=(2, 2), num_heads=(3, 3)),
    "san": dict(n_resgroups=2, n_resblocks=2, n_feats=16, reduction=4),
    "ignn": dict(n_resblocks=2, n_feats=16),
    "liif": dict(encoder_kwargs=dict(num_features=8, num_blocks=2, num_layers=2, growth_rate=4), hidden_list=(16, 16)),
    "liif_edsr_baseline": dict(encoder_kwargs=dict(n_resblocks=2, n_feats=16), hidden_list=(16, 16)),
}
