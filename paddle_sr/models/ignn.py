"""IGNN — Cross-Scale Internal Graph Neural Network for Image Super-Resolution (Zhou et al., NeurIPS 2020,
arXiv:2006.16673). NOT PORTED YET: this module registers nothing.

A faithful port is possible with Paddle ops; it was not done for lack of time (issue 8). Notes for
whoever ports it, from the official code (sczhou/IGNN ``models/IGNN.py``, ``models/graph_agg.py``,
``models/submodules.py``, ``models/lib/ops.py``):
- The only compiled op, ``matmul_cuda.matmul1`` (``IndexedMatmul1Efficient``), is used in eval mode
  only, to get the window-restricted distances D[b, m, o] = <ye[b, m], xe[b, I[b, m, o]]>; it equals
  ``paddle.take_along_axis`` of xe at I followed by a batched dot product (the training path already
  computes full Euclidean distances with matmul and gathers them with ``I``). ``pyinn.im2col`` /
  ``col2im`` are ``F.unfold`` / ``F.fold`` (``patch2im`` divides by the fold of ones), k-NN is
  ``paddle.topk(largest=False)``, neighbour aggregation a ``take_along_axis``.
- The forward takes two inputs: the LR image and its bicubic x``scale`` downsampled "son" (made by
  the data loader); a suite port would make the son inside the model (``MatlabBicubicUpsample``'s
  downsampling counterpart) to keep the LR-in/SR-out contract.
- The graph is built on frozen VGG19 features (``VGG19([3])``, ImageNet weights), patch size 3,
  stride 2, k neighbours within a window (``index_neighbours``, cached per size); behaviour is
  switched by ``cfg.NETWORK.WITH_WINDOW / WITH_DIFF / WITH_SCORE / WITH_ADAIN_NROM`` (note the official
  ``index_neighbours`` sets the global ``WITH_WINDOW = False`` as a side effect for small inputs).
- x4 runs the graph at x2 and adds an extra x2 upsampler in the tail.
"""
