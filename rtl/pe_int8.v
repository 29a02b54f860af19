// pe_int8: one processing element of a weight-stationary systolic array (rtl/systolic_ws.v),
// signed integer multiply-accumulate (INT8 x INT8 -> INT32 by default).
//
// Dataflow (Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing Unit",
// ISCA'17 §2; SCALE-Sim, Samajdar et al., arXiv 1811.02883 §III, weight stationary): the PE holds
// one weight; activations move left to right, partial sums top to bottom, one PE per cycle.
//
// Parameters
//   A_W    activation width, two's complement, 2..16 (8: INT8).
//   W_W    weight width, two's complement, 2..16 (8: INT8).
//   ACC_W  partial-sum width, two's complement, A_W + W_W + 1 .. 64 (32: INT32). Sums wrap modulo
//          2^ACC_W; the array checks that a column's sum cannot overflow.
//
// Ports (every register updates on the rising edge of clk; no reset: the array flushes the
// valid bits, every other register is written before it is read)
//   w_load        1: w_reg <= w_in (weights shift one PE down per cycle while loading).
//   w_in, w_out   weight from the PE above / w_reg, to the PE below.
//   a_in, a_out   activation from the left / registered copy, to the right.
//   av_in, av_out valid bit travelling with the activation (registered copy).
//   psum_in       partial sum from the PE above (0 at the top row).
//   psum_out      psum_reg <= psum_in + a_in * w_reg (a_in of this cycle, the weight held).
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator, yosys) by instantiating a
// module that does not exist; its name states the broken rule (as rtl/fp_mul.v does).
module pe_int8 #(
    parameter integer A_W   = 8,
    parameter integer W_W   = 8,
    parameter integer ACC_W = 32
) (
    input  wire                    clk,
    input  wire                    w_load,
    input  wire signed [W_W-1:0]   w_in,
    output wire signed [W_W-1:0]   w_out,
    input  wire signed [A_W-1:0]   a_in,
    input  wire                    av_in,
    output wire signed [A_W-1:0]   a_out,
    output wire                    av_out,
    input  wire signed [ACC_W-1:0] psum_in,
    output wire signed [ACC_W-1:0] psum_out
);
    generate
        if (A_W < 2 || A_W > 16) begin : g_bad_a
            pe_int8_ILLEGAL_A_W_not_in_2_to_16 illegal_parameters ();
        end
        if (W_W < 2 || W_W > 16) begin : g_bad_w
            pe_int8_ILLEGAL_W_W_not_in_2_to_16 illegal_parameters ();
        end
        if (ACC_W < A_W + W_W + 1 || ACC_W > 64) begin : g_bad_acc
            pe_int8_ILLEGAL_ACC_W_not_in_A_W_plus_W_W_plus_1_to_64 illegal_parameters ();
        end
    endgenerate

    reg signed [W_W-1:0]   w_reg;
    reg signed [A_W-1:0]   a_reg;
    reg                    av_reg;
    reg signed [ACC_W-1:0] psum_reg;

    // full-width signed product, sign-extended to the accumulator
    wire signed [A_W+W_W-1:0] prod = a_in * w_reg;
    wire signed [ACC_W-1:0]   prod_ext = {{(ACC_W-A_W-W_W){prod[A_W+W_W-1]}}, prod};

    always @(posedge clk) begin
        if (w_load) w_reg <= w_in;
        a_reg    <= a_in;
        av_reg   <= av_in;
        psum_reg <= psum_in + prod_ext;
    end

    assign w_out    = w_reg;
    assign a_out    = a_reg;
    assign av_out   = av_reg;
    assign psum_out = psum_reg;
endmodule
