/* An OpenAI-compatible POST /v1/chat/completions, whole or streamed as Server-Sent
 * Events, with a scripted or echoed answer and failures on request; GET|POST|DELETE
 * /_emu/llm set it up and read its calls. */
#ifndef LARKGW_EMU_LLM_H
#define LARKGW_EMU_LLM_H

struct emu;
struct emu_req;

int emu_llm_new(struct emu *emu);                   /* 0, or -1 out of memory */
void emu_llm_free(struct emu *emu);                 /* closes answers still going out */
void emu_llm_handle(struct emu_req *r);
void emu_llm_control(struct emu_req *r);

#endif
