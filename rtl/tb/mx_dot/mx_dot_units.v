// mx_dot_units: bench-only wrapper, UNITS independent mx_dot instances on packed buses so that
// one cocotb step checks UNITS block pairs.
//
// Parameters: those of rtl/mx_dot.v (K, ELEM_KIND, EXP_BITS, MAN_BITS, SPECIALS, EXP_BIAS,
//             INT_BITS, INT_ENCODING, INT_FRAC, SCALE_KIND); UNITS >= 1 instances.
// Ports: a, b    UNITS blocks of K*W bits, unit u at [u*K*W +: K*W] (W the element width);
//        sa, sb  UNITS scale codes, unit u at [u*8 +: 8];
//        y       UNITS FP32 results, unit u at [u*32 +: 32].
module mx_dot_units #(
    parameter integer K            = 32,
    parameter integer ELEM_KIND    = 0,
    parameter integer EXP_BITS     = 4,
    parameter integer MAN_BITS     = 3,
    parameter integer SPECIALS     = 1,
    parameter integer EXP_BIAS     = 7,
    parameter integer INT_BITS     = 8,
    parameter integer INT_ENCODING = 0,
    parameter integer INT_FRAC     = 6,
    parameter integer SCALE_KIND   = 0,
    parameter integer UNITS        = 8
) (
    input  wire [UNITS*K*((ELEM_KIND == 0) ? (1 + EXP_BITS + MAN_BITS) : INT_BITS)-1:0] a,
    input  wire [UNITS*K*((ELEM_KIND == 0) ? (1 + EXP_BITS + MAN_BITS) : INT_BITS)-1:0] b,
    input  wire [UNITS*8-1:0]  sa,
    input  wire [UNITS*8-1:0]  sb,
    output wire [UNITS*32-1:0] y
);
    localparam integer BW = K * ((ELEM_KIND == 0) ? (1 + EXP_BITS + MAN_BITS) : INT_BITS);
    genvar u;
    generate
        for (u = 0; u < UNITS; u = u + 1) begin : g_unit
            mx_dot #(.K(K), .ELEM_KIND(ELEM_KIND), .EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS),
                     .SPECIALS(SPECIALS), .EXP_BIAS(EXP_BIAS), .INT_BITS(INT_BITS),
                     .INT_ENCODING(INT_ENCODING), .INT_FRAC(INT_FRAC), .SCALE_KIND(SCALE_KIND)) u_dot (
                .a(a[u*BW +: BW]), .b(b[u*BW +: BW]), .sa(sa[u*8 +: 8]), .sb(sb[u*8 +: 8]),
                .y(y[u*32 +: 32]));
        end
    endgenerate
endmodule
