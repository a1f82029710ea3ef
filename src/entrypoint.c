// Registers the routines that extendr generates (and with them its panic hook).
void R_init_warmgam_extendr(void *dll);

void R_init_warmgam(void *dll) {
    R_init_warmgam_extendr(dll);
}
