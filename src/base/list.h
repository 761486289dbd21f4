/* Intrusive doubly linked list (the kernel's shape). An element embeds a
 * `struct ps_list` and is recovered with ps_list_entry(). The list never owns
 * its elements. */
#ifndef PS_BASE_LIST_H
#define PS_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct ps_list {
        struct ps_list *prev, *next;
};

#define PS_LIST_INIT(name)                                                                         \
        {                                                                                          \
                &(name), &(name)                                                                   \
        }

static inline void ps_list_init(struct ps_list *l)
{
        l->prev = l->next = l;
}

static inline bool ps_list_empty(const struct ps_list *l)
{
        return l->next == l;
}

static inline void ps_list_add_tail(struct ps_list *head, struct ps_list *n)
{
        n->prev = head->prev;
        n->next = head;
        head->prev->next = n;
        head->prev = n;
}

/* Unlinks n and leaves it self-linked, so a second remove is harmless. */
static inline void ps_list_remove(struct ps_list *n)
{
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = n->next = n;
}

#define ps_list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define ps_list_first(head, type, member)                                                          \
        (ps_list_empty(head) ? NULL : ps_list_entry((head)->next, type, member))

/* Safe against removal of the current element. */
#define ps_list_for_each_safe(pos, tmp, head)                                                      \
        for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

#endif
