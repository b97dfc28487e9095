"""TensorFlow 2.21: the gradient registered for BlockLSTMV2 is BlockLSTM's (rnn_grad.py), whose
kernel reads the gates as i, ci, f, o where V2 has i, f, ci, o: the x, h_prev, w and b gradients
are wrong (cs_prev's is right). Expected output: the two numbers agree for BlockLSTM and not for
BlockLSTMV2. Found by lstm_props (one_step_vjp_splits_into_carry_and_hidden_tracks)."""

import numpy as np
import tensorflow as tf

rng = np.random.default_rng(0)
B, D, H = 2, 3, 4
x, h, c = (tf.constant(rng.normal(size=s), tf.float32) for s in [(1, B, D), (B, H), (B, H)])
w = tf.constant(rng.normal(size=(D + H, 4 * H)), tf.float32)
b, p = tf.constant(rng.normal(size=4 * H), tf.float32), tf.zeros(H)


def loss(x, h, w, op):  # sum of h after one step
    return tf.reduce_sum(
        op(
            seq_len_max=tf.constant(1, tf.int64),
            x=x,
            cs_prev=c,
            h_prev=h,
            w=w,
            wci=p,
            wcf=p,
            wco=p,
            b=b,
            cell_clip=0.0,
        ).h
    )


for op in (tf.raw_ops.BlockLSTM, tf.raw_ops.BlockLSTMV2):
    with tf.GradientTape() as tape:
        tape.watch([x, h, w])
        value = loss(x, h, w, op)
    gx, gh, gw = tape.gradient(value, [x, h, w])
    v = [tf.constant(rng.normal(size=t.shape), tf.float32) for t in (x, h, w)]
    e = 1e-2  # central difference along v, float32 is plenty at this size
    fd = (
        loss(x + e * v[0], h + e * v[1], w + e * v[2], op)
        - loss(x - e * v[0], h - e * v[1], w - e * v[2], op)
    ) / (2 * e)
    ad = sum(tf.reduce_sum(g * d) for g, d in zip((gx, gh, gw), v))
    print(f"{op.__name__}: tape {float(ad):+.4f}  finite difference {float(fd):+.4f}")
