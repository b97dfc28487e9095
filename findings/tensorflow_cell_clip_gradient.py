"""TensorFlow 2.21: with cell_clip > 0 the block kernels clamp c in the forward but not in the
backward: where c was clipped the tape returns f, the true derivative is 0. Expected output: the
tape row and the finite-difference row differ. Found by lstm_props
(carry_backward_matches_finite_differences)."""

import numpy as np
import tensorflow as tf

rng = np.random.default_rng(0)
B, D, H = 2, 3, 4
x = tf.constant(rng.normal(size=(1, B, D)), tf.float32)
c = tf.constant(rng.normal(size=(B, H)) * 3, tf.float32)  # |c| large: cs gets clipped
h, p = tf.constant(rng.normal(size=(B, H)), tf.float32), tf.zeros(H)
w = tf.constant(rng.normal(size=(D + H, 4 * H)), tf.float32)
b = tf.constant(np.r_[np.zeros(2 * H), 5 * np.ones(H), np.zeros(H)], tf.float32)  # f ≈ 1


def cs(c):
    return tf.raw_ops.BlockLSTM(
        seq_len_max=tf.constant(1, tf.int64),
        x=x,
        cs_prev=c,
        h_prev=h,
        w=w,
        wci=p,
        wcf=p,
        wco=p,
        b=b,
        forget_bias=0.0,
        cell_clip=1.0,
    ).cs[0]


with tf.GradientTape() as tape:
    tape.watch(c)
    out = cs(c)
print("cs:", out.numpy().round(2)[0])
print("tape d sum(cs)/d c:", tape.gradient(out, c).numpy().round(3)[0])
e = 1e-2
print("finite difference :", ((cs(c + e) - cs(c - e)) / (2 * e)).numpy().round(3)[0])
