// olive_lane: OliVe MAC lane: one outlier-victim pair of weights times two activations per cycle,
// accumulated exactly in a two's complement integer register (clocked).
//
// Weights: the packed pair hwsim's encoder writes (`hwsim.format("olive4"|"olive8").encode(w)
// .meta["packed"]`: 4-bit: one byte {code(2k), code(2k+1)}; 8-bit: the two bytes [2k, 2k+1] as
// w = {byte(2k), byte(2k+1)}), decoded by rtl/olive_decoder.v into the exponent-integer pair
// (sig_hi, sig_lo, sh) of OliVe §IV (ISCA'23, arXiv 2304.07493). Activations: two's complement
// integers of ACT_BITS bits (default INT8: the W4A8 / W8A8 integer activation a lane of an integer
// accelerator reads, e.g. hwsim's `int8_tensor` codes; the per-channel weight scale and the
// activation scale are applied outside the lane, as OliVe's PE array does).
//
// Every enabled cycle adds the exact term
//     ((x_hi * sig_hi) + (x_lo * sig_lo)) << sh
// = x_hi * v(2k) + x_lo * v(2k+1), v the decoded values in type units (hwsim's decode with unit
// scales): int normals, flint normals, abfloat outliers (2^MB + m) 2^(e + bias), victims 0. The
// victim's sig is 0, so one shifter after the pair sum serves the outlier (no per-element shifter).
// The accumulator is exact while the dot product fits ACC_BITS signed bits (it wraps modulo
// 2^ACC_BITS beyond: with INT8 activations and 32 bits, at least 2^32 / 2 / (128 * 2016) = 8,322
// olive8 pairs or 2^31 / (128 * 192) = 87,381 olive4 outlier pairs; hwsim's dot lengths are far less).
//
// Parameters
//   BITS, OUT_EXP_BITS, NORMALS, BIAS_INT, BIAS_FLINT  as in rtl/olive_decoder.v (olive4:
//                 4, 2, 3, 2, 3; olive8: 8, 2, 1, 2, -; hwsim.synth.params.olive_lane_params).
//   ACT_BITS      activation width, 2..16 (two's complement; default 8).
//   ACC_BITS      accumulator width, up to 64, at least the width of one term
//                 (ACT_BITS + SIG_W + 1 + max shift), default 32.
//
// Ports
//   clk         rising-edge clock.
//   en          accumulate this cycle's pair.
//   clr         start a new dot product: the accumulator (and `bad`) restart from 0, plus this
//               cycle's term when en is also high (acc <= term).
//   flint       per-tensor normal type (1 flint, 0 int), used when NORMALS = 3.
//   w           the packed pair {code(2k), code(2k+1)}, 2 BITS bits.
//   x_hi, x_lo  activations of elements 2k and 2k+1.
//   acc         the accumulated dot product (registered), in type units of the weight times the
//               activation's integer codes.
//   bad         sticky since the last clr: an enabled pair was one hwsim never produces
//               (olive_decoder's `illegal`; it added 0).
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator and yosys alike), in this
// module (ACT_BITS, ACC_BITS) or in olive_decoder (the format parameters).
`ifndef HWSIM_OLIVE_DECODER_V
`include "olive_decoder.v"
`endif
module olive_lane #(
    parameter integer BITS         = 4,
    parameter integer OUT_EXP_BITS = 2,
    parameter integer NORMALS      = 3,
    parameter integer BIAS_INT     = 2,
    parameter integer BIAS_FLINT   = 3,
    parameter integer ACT_BITS     = 8,
    parameter integer ACC_BITS     = 32
) (clk, en, clr, flint, w, x_hi, x_lo, acc, bad);
    // widths of olive_decoder's outputs (same formulas)
    localparam integer HAS_INT  = (NORMALS % 2 != 0) ? 1 : 0;
    localparam integer HAS_FL   = ((NORMALS / 2) % 2 != 0) ? 1 : 0;
    localparam integer SIG_W    = (HAS_FL != 0) ? BITS + 2 : BITS;
    localparam integer EMAX     = (1 << OUT_EXP_BITS) - 1;
    localparam integer BIAS_MAX = (HAS_FL != 0 && (HAS_INT == 0 || BIAS_FLINT > BIAS_INT)) ? BIAS_FLINT : BIAS_INT;
    localparam integer SH_MAX   = EMAX + BIAS_MAX;
    localparam integer SH_C     = $clog2(SH_MAX + 1);
    localparam integer SH_W     = SH_C > OUT_EXP_BITS ? SH_C : OUT_EXP_BITS + 1;
    localparam integer PW       = ACT_BITS + SIG_W + 1;  // x_hi sig_hi + x_lo sig_lo
    localparam integer TW       = PW + SH_MAX;           // one shifted term

    input  wire                      clk;
    input  wire                      en;
    input  wire                      clr;
    input  wire                      flint;
    input  wire [2*BITS-1:0]         w;
    input  wire signed [ACT_BITS-1:0] x_hi;
    input  wire signed [ACT_BITS-1:0] x_lo;
    output reg  signed [ACC_BITS-1:0] acc;
    output reg                       bad;

    generate
        if (ACT_BITS < 2 || ACT_BITS > 16) begin : g_bad_act
            olive_lane_ILLEGAL_ACT_BITS_not_in_2_to_16 illegal_parameters ();
        end
        if (ACC_BITS > 64 || ACC_BITS < TW) begin : g_bad_acc
            olive_lane_ILLEGAL_ACC_BITS_below_one_term_or_above_64 illegal_parameters ();
        end
    endgenerate

    wire signed [SIG_W-1:0] sig_hi;
    wire signed [SIG_W-1:0] sig_lo;
    wire [SH_W-1:0]         sh;
    wire                    outlier_hi;
    wire                    outlier_lo;
    wire                    illegal;
    olive_decoder #(.BITS(BITS), .OUT_EXP_BITS(OUT_EXP_BITS), .NORMALS(NORMALS), .BIAS_INT(BIAS_INT),
                    .BIAS_FLINT(BIAS_FLINT)) u_dec (
        .pair(w), .flint(flint), .sig_hi(sig_hi), .sig_lo(sig_lo), .sh(sh),
        .outlier_hi(outlier_hi), .outlier_lo(outlier_lo), .illegal(illegal));

    // exact pair sum, sign-extended to the accumulator, then the outlier's exponent shift
    wire signed [PW-1:0]       p_hi = x_hi * sig_hi;
    wire signed [PW-1:0]       p_lo = x_lo * sig_lo;
    wire signed [PW-1:0]       psum = p_hi + p_lo;
    wire signed [ACC_BITS-1:0] pext = {{(ACC_BITS-PW){psum[PW-1]}}, psum};
    wire signed [ACC_BITS-1:0] term = pext <<< sh;

    always @(posedge clk) begin
        acc <= (clr ? {ACC_BITS{1'b0}} : acc) + (en ? term : {ACC_BITS{1'b0}});
        bad <= (clr ? 1'b0 : bad) | (en & illegal);
    end
endmodule
