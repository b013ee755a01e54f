"""The middle of the codec, shared by every writer and reader of files.

- ``settings``: the encoding options checked and resolved once into a frozen ``Settings``
  (and a file's header resolved the same way), the limits every reader applies;
- ``guard``: the quality guard (how far below a level's own figures images reconstruct);
- ``chunk``: one batch of images <-> latent symbols: the input array checked and
  normalised, the polarity rule, the encoder's symbols and the decoder network's pixels.

The stream writers and readers (``vaecodec.stream``) and the array API (``vaecodec.codec``)
sit above; the models (``vaecodec.zoo``) and the numeric core below.
"""
