;;; Stand-in for (guix i18n), written for this test: messages untranslated.
(define-module (guix i18n)
  #:export (G_ N_ P_))

(define (G_ message) message)
(define (N_ singular plural n) (if (= n 1) singular plural))
(define (P_ message) message)
