"""The maths: oracle cells, the error model and the carry machinery (no pytest, no Hypothesis).

* :mod:`~lstm_props.maths.layout`: the documented parameter layout every oracle reads;
* :mod:`~lstm_props.maths.variants`: LSTM variants as objects (flags, carry derivative);
* :mod:`~lstm_props.maths.reference`: float64 oracle cells (LSTM and its variants, the RNN);
* :mod:`~lstm_props.maths.carry`, :mod:`~lstm_props.maths.chunked_carry`,
  :mod:`~lstm_props.maths.probed`: carry-path Jacobians and their products, dense, chunked
  and probed at the target's own size;
* :mod:`~lstm_props.maths.tolerances`, :mod:`~lstm_props.maths.composed`,
  :mod:`~lstm_props.maths.abs_jacobian`, :mod:`~lstm_props.maths.own_precision`: the error
  model every comparison's tolerance comes from.
"""
