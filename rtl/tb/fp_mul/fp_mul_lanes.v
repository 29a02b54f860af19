// fp_mul_lanes: bench-only wrapper, LANES independent fp_mul instances on packed buses so that one
// cocotb step checks LANES operand pairs (the exhaustive FP8 sweep is 65,536 pairs).
//
// Parameters: EXP_BITS, MAN_BITS, SPECIALS as in rtl/fp_mul.v; LANES >= 1 instances.
// Ports: a, b  LANES codes of 1 + EXP_BITS + MAN_BITS bits, lane i at bits [i*W +: W];
//        p     LANES results of OW = 3 + (EXP_BITS + 1) + (2 MAN_BITS + 2) bits, lane i at
//              [i*OW +: OW] = {p_nan, p_inf, p_sign, p_exp, p_sig} (p_sig in the low bits).
module fp_mul_lanes #(
    parameter integer EXP_BITS = 4,
    parameter integer MAN_BITS = 3,
    parameter integer SPECIALS = 1,
    parameter integer LANES    = 32
) (
    input  wire [LANES*(1+EXP_BITS+MAN_BITS)-1:0]            a,
    input  wire [LANES*(1+EXP_BITS+MAN_BITS)-1:0]            b,
    output wire [LANES*(3+(EXP_BITS+1)+(2*MAN_BITS+2))-1:0] p
);
    localparam integer W  = 1 + EXP_BITS + MAN_BITS;
    localparam integer OW = 3 + (EXP_BITS + 1) + (2 * MAN_BITS + 2);
    genvar i;
    generate
        for (i = 0; i < LANES; i = i + 1) begin : g_lane
            wire                  p_sign, p_nan, p_inf;
            wire [EXP_BITS:0]     p_exp;
            wire [2*MAN_BITS+1:0] p_sig;
            fp_mul #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .SPECIALS(SPECIALS)) u_mul (
                .a(a[i*W +: W]), .b(b[i*W +: W]),
                .p_sign(p_sign), .p_exp(p_exp), .p_sig(p_sig), .p_nan(p_nan), .p_inf(p_inf));
            assign p[i*OW +: OW] = {p_nan, p_inf, p_sign, p_exp, p_sig};
        end
    endgenerate
endmodule
