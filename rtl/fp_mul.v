// fp_mul: exact product of two minifloats (combinational).
//
// Element encoding (OCP MX v1.0 §5.3; OCP OFP8 v1.0 §4; IEEE 754-2019 §3.4): a code is
//   sign << (EXP_BITS + MAN_BITS) | exp_field << MAN_BITS | man_field,
// value (-1)^s 2^(e - BIAS) (1 + m / 2^MAN_BITS) for e >= 1 (normal) and
//       (-1)^s 2^(1 - BIAS) (m / 2^MAN_BITS)     for e  = 0 (subnormal).
//
// Parameters
//   EXP_BITS  exponent field width, 2..8 (1..8 for SPECIALS = 3).
//   MAN_BITS  mantissa field width, 1..10.
//   SPECIALS  which codes are not finite numbers; the codes of hwsim.numerics.types.SPECIALS_*:
//             0 'ieee'   exp field all ones: Inf (man = 0) or NaN (man != 0)   (OFP8 E5M2, FP16)
//             1 'fn'     only S.1..1.1..1 is NaN, no Inf                       (OFP8 E4M3)
//             3 'finite' every code is a finite number                         (MX FP6 E2M3/E3M2, FP4 E2M1)
//             (2 'fnuz' is not implemented and is rejected.)
// The bias is not a parameter: the product is returned in field units, and the caller (a dot-product
// unit, the testbench) applies 2 * BIAS once.
//
// Ports
//   a, b    operand codes, 1 + EXP_BITS + MAN_BITS bits each.
//   p_sign  sign of the product: sign(a) xor sign(b) (also for zero products; meaningless for NaN).
//   p_exp   EXP_BITS + 1 bits, unsigned: ee(a) + ee(b), where ee(x) = max(exp_field(x), 1)
//           (a subnormal uses the exponent of the smallest normal binade). Range 2 .. 2 (2^EXP_BITS - 1).
//   p_sig   2 MAN_BITS + 2 bits, unsigned: sig(a) * sig(b), sig(x) = {exp_field(x) != 0, man_field(x)}
//           (the significand with its hidden bit, an integer). Exact: no bit is dropped.
//   p_nan   the product is NaN: an operand is NaN, or Inf times zero.
//   p_inf   the product is +-Inf (sign p_sign): an operand is Inf and neither is NaN or zero.
// Product value when p_nan = p_inf = 0 (exact):
//   (-1)^p_sign * p_sig * 2^(p_exp - 2 BIAS - 2 MAN_BITS)
// When p_nan or p_inf is set, p_exp and p_sig hold the field arithmetic of the special codes and
// carry no meaning. The fields are what an MX dot-product unit aligns: the shift of lane i's
// product into a fixed-point accumulator is p_exp - 2, and zero products have p_sig = 0.
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator and yosys alike) by
// instantiating a module that does not exist; its name states the rule that was broken.
module fp_mul #(
    parameter integer EXP_BITS = 4,
    parameter integer MAN_BITS = 3,
    parameter integer SPECIALS = 1
) (
    input  wire [EXP_BITS+MAN_BITS:0]     a,
    input  wire [EXP_BITS+MAN_BITS:0]     b,
    output wire                           p_sign,
    output wire [EXP_BITS:0]              p_exp,
    output wire [2*MAN_BITS+1:0]          p_sig,
    output wire                           p_nan,
    output wire                           p_inf
);
    // --- elaboration-time parameter checks ----------------------------------------------------
    generate
        if (SPECIALS != 0 && SPECIALS != 1 && SPECIALS != 3) begin : g_bad_specials
            fp_mul_ILLEGAL_SPECIALS_not_0_ieee_1_fn_or_3_finite illegal_parameters ();
        end
        if (EXP_BITS < 1 || EXP_BITS > 8) begin : g_bad_exp
            fp_mul_ILLEGAL_EXP_BITS_not_in_1_to_8 illegal_parameters ();
        end
        if (MAN_BITS < 1 || MAN_BITS > 10) begin : g_bad_man
            fp_mul_ILLEGAL_MAN_BITS_not_in_1_to_10 illegal_parameters ();
        end
        if (SPECIALS != 3 && EXP_BITS < 2) begin : g_bad_special_binade
            fp_mul_ILLEGAL_SPECIALS_ieee_or_fn_need_EXP_BITS_at_least_2 illegal_parameters ();
        end
    endgenerate

    localparam integer W = 1 + EXP_BITS + MAN_BITS;

    wire               sa = a[W-1];
    wire               sb = b[W-1];
    wire [EXP_BITS-1:0] ea = a[W-2:MAN_BITS];
    wire [EXP_BITS-1:0] eb = b[W-2:MAN_BITS];
    wire [MAN_BITS-1:0] ma = a[MAN_BITS-1:0];
    wire [MAN_BITS-1:0] mb = b[MAN_BITS-1:0];

    wire ha = |ea;  // hidden bit: normal
    wire hb = |eb;
    wire ea_ones = &ea;
    wire eb_ones = &eb;

    // significands with the hidden bit, and effective exponents (subnormal: 1)
    wire [MAN_BITS:0]   siga = {ha, ma};
    wire [MAN_BITS:0]   sigb = {hb, mb};
    localparam [EXP_BITS-1:0] ONE = 1;
    wire [EXP_BITS-1:0] eea = ha ? ea : ONE;
    wire [EXP_BITS-1:0] eeb = hb ? eb : ONE;

    // special codes by policy
    wire a_nan = (SPECIALS == 0) ? (ea_ones & (|ma)) :
                 (SPECIALS == 1) ? (ea_ones & (&ma)) : 1'b0;
    wire b_nan = (SPECIALS == 0) ? (eb_ones & (|mb)) :
                 (SPECIALS == 1) ? (eb_ones & (&mb)) : 1'b0;
    wire a_inf = (SPECIALS == 0) ? (ea_ones & ~(|ma)) : 1'b0;
    wire b_inf = (SPECIALS == 0) ? (eb_ones & ~(|mb)) : 1'b0;
    wire a_zero = ~ha & ~(|ma);
    wire b_zero = ~hb & ~(|mb);

    assign p_sign = sa ^ sb;
    assign p_exp  = {1'b0, eea} + {1'b0, eeb};
    assign p_sig  = siga * sigb;
    assign p_nan  = a_nan | b_nan | (a_inf & b_zero) | (b_inf & a_zero);
    assign p_inf  = (a_inf | b_inf) & ~p_nan;
endmodule
