// pe_mxfp8: weight-stationary PE multiplying MXFP8 (OCP MX v1.0 §5.3, E4M3) elements exactly,
// the MX-PE variant of rtl/systolic_ws.v (parameter PE = 1). Same ports and timing as
// rtl/pe_int8.v; the product comes from rtl/fp_mul.v (E4M3, 'fn' specials) and is added as an
// exact two's complement fixed-point number, so a column's partial sum over a fold is exact.
//
// Partial-sum encoding (ACC_W bits): bit ACC_W-1 is a sticky NaN flag (an operand was the E4M3
// NaN code S.1111.111), bits ACC_W-2..0 the two's complement sum in units of 2^-18: an E4M3
// product is p_sig * 2^(p_exp - 2 bias - 2 man) = (p_sig << (p_exp - 2)) * 2^-18 (fp_mul's
// fields; 2^-18 = (2^-9)^2, the product of two minimum subnormals; |product| <= 448^2 < 2^18).
// The per-block E8M0 scales of X and W are the same for every element of a fold (a fold spans
// ROWS <= 32 elements of one 32-element MX block): the output accumulator applies
// 2^(scale_x + scale_w - 254) once per output, outside the array, like the K-fold partial sums.
//
// Parameters
//   ACC_W  partial-sum width incl. the NaN bit, 39..64 (one product needs 37 signed bits).
//
// Ports: as rtl/pe_int8.v (A_W = W_W = 8: the E4M3 codes).
module pe_mxfp8 #(
    parameter integer ACC_W = 48
) (
    input  wire             clk,
    input  wire             w_load,
    input  wire [7:0]       w_in,
    output wire [7:0]       w_out,
    input  wire [7:0]       a_in,
    input  wire             av_in,
    output wire [7:0]       a_out,
    output wire             av_out,
    input  wire [ACC_W-1:0] psum_in,
    output wire [ACC_W-1:0] psum_out
);
    generate
        if (ACC_W < 39 || ACC_W > 64) begin : g_bad_acc
            pe_mxfp8_ILLEGAL_ACC_W_not_in_39_to_64 illegal_parameters ();
        end
    endgenerate

    reg [7:0]       w_reg;
    reg [7:0]       a_reg;
    reg             av_reg;
    reg [ACC_W-1:0] psum_reg;

    wire       p_sign, p_nan, p_inf;
    wire [4:0] p_exp;
    wire [7:0] p_sig;
    fp_mul #(.EXP_BITS(4), .MAN_BITS(3), .SPECIALS(1)) u_mul (
        .a(a_in), .b(w_reg), .p_sign(p_sign), .p_exp(p_exp), .p_sig(p_sig), .p_nan(p_nan), .p_inf(p_inf));

    // p_exp in 2..30: shift 0..28, magnitude < 2^36
    wire [ACC_W-2:0] mag = {{(ACC_W-9){1'b0}}, p_sig} << (p_exp - 5'd2);
    wire [ACC_W-2:0] prod = p_sign ? -mag : mag;

    always @(posedge clk) begin
        if (w_load) w_reg <= w_in;
        a_reg    <= a_in;
        av_reg   <= av_in;
        psum_reg <= {psum_in[ACC_W-1] | p_nan, psum_in[ACC_W-2:0] + prod};
    end

    assign w_out    = w_reg;
    assign a_out    = a_reg;
    assign av_out   = av_reg;
    assign psum_out = psum_reg;
    wire unused_inf = p_inf;  // E4M3 ('fn') has no Inf
endmodule
